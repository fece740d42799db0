#!/usr/bin/env node
// The container's HEALTHCHECK: exits 0 when /healthz answers 2xx within the timeout, else 1, printing why.
// LOOPBRIDGE_HEALTH_URL (default http://127.0.0.1:9090/healthz) must match ops.httpPort in the config.
const url = process.env.LOOPBRIDGE_HEALTH_URL ?? 'http://127.0.0.1:9090/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  const body = await res.text();
  process.stdout.write(`${res.status} ${body.slice(0, 500)}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (error) {
  process.stdout.write(`unhealthy: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
