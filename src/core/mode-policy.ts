// Who may choose which permission mode. Modes are ranked by what the loop server actually lets a turn do
// (contract §5.1, as implemented): `plan` and `default` prompt for every non-safe tool, `acceptEdits`
// lets file edits through, and `bypassPermissions`, `auto` and `dontAsk` allow every tool. (`dontAsk`
// means "deny what is not pre-approved" in some agent SDKs; the loop server allows everything in it, so
// it counts as loosest here.)

import type { PermissionMode } from '../loop-api/types.js';

const RANK: Record<PermissionMode, number> = {
  plan: 0,
  default: 1,
  acceptEdits: 2,
  bypassPermissions: 3,
  auto: 3,
  dontAsk: 3,
};

/** Modes from strictest to loosest. */
export const MODES_BY_PERMISSIVENESS: readonly PermissionMode[] = (Object.keys(RANK) as PermissionMode[]).sort((a, b) => RANK[a] - RANK[b]);

/** True when `mode` lets a turn do more without asking than `than`. */
export function isLooser(mode: PermissionMode, than: PermissionMode): boolean {
  return RANK[mode] > RANK[than];
}

/** Who asks, and where. */
export interface ModeRequester {
  isAdmin: boolean;
  /** A direct conversation with that person (their own), rather than a group shared with others. */
  isDirect: boolean;
}

/**
 * The rule: admins may choose any mode anywhere. In their own direct chat an allowed person may choose any
 * mode no looser than the configured default (`loop.permissionMode`). A group's mode is shared by everyone
 * there, so only admins change it.
 */
export function mayChooseMode(who: ModeRequester, mode: PermissionMode, configuredDefault: PermissionMode): boolean {
  if (who.isAdmin) return true;
  if (!who.isDirect) return false;
  return !isLooser(mode, configuredDefault);
}

/** The modes this person may choose here, strictest first. */
export function choosableModes(who: ModeRequester, configuredDefault: PermissionMode): PermissionMode[] {
  return MODES_BY_PERMISSIVENESS.filter((m) => mayChooseMode(who, m, configuredDefault));
}
