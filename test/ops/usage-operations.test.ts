// `usage --since`: which dates are taken and how a bad one is answered.

import { describe, expect, it } from 'vitest';
import { ControlError } from '../../src/ops/control-protocol.js';
import { sinceDay } from '../../src/ops/usage-operations.js';

describe('usage --since', () => {
  it('takes a UTC day or an ISO date-time (its UTC day); nothing means everything kept', () => {
    expect(sinceDay('2025-03-01')).toBe('2025-03-01');
    expect(sinceDay(' 2024-02-29 ')).toBe('2024-02-29');
    expect(sinceDay('2025-03-01T23:30:00-02:00')).toBe('2025-03-02');
    expect(sinceDay(undefined)).toBeUndefined();
    expect(sinceDay('')).toBeUndefined();
  });

  it('refuses what is not a real date, saying the form it wants', () => {
    for (const bad of ['yesterday', '2025-02-30', '2025-02-29', '2025-13-01', '1/3/2025', '2025-3-1']) {
      expect(() => sinceDay(bad), bad).toThrow(ControlError);
      expect(() => sinceDay(bad), bad).toThrow(`since must be a date, YYYY-MM-DD (UTC) or an ISO date-time — got ${JSON.stringify(bad)}`);
    }
  });
});
