// Public surface of the config module.
export { loadConfig, resolveConfig, ConfigError } from './load.js';
export type { ConfigErrorCode, ResolveOptions, ResolvedConfig } from './load.js';
export { maskSecrets } from './mask.js';
export { runCheckConfig } from './check-config.js';
export type { CheckConfigIo } from './check-config.js';
export { substituteEnv } from './env-subst.js';
export type { SubstituteResult } from './env-subst.js';
export {
  configSchema,
  configKeyPaths,
  PERMISSION_MODES,
  DM_POLICIES,
  PLATFORMS,
  LOG_LEVELS,
  LOG_FORMATS,
  TELEGRAM_MODES,
  SLACK_MODES,
  LOOP_MAX_CONTENT_CHARS,
} from './schema.js';
export type {
  Config,
  ConfigIssue,
  LoopConfig,
  StoreConfig,
  ReplicaConfig,
  AccessConfig,
  RoutingConfig,
  RepliesConfig,
  TelegramConfig,
  TelegramWebhookConfig,
  TelegramRateConfig,
  ConsoleConfig,
  OpsConfig,
  PermissionMode,
  DmPolicy,
  LogLevel,
  LogFormat,
  TelegramMode,
  SlackConfig,
  SlackMode,
} from './schema.js';
