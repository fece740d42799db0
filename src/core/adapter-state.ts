// Each adapter's own durable state (sync token, login, reaction meanings) lives in the core's store under
// `adapter/<platform>/`, so it is flushed, backed up and moved with everything else.

import type { Store } from '../store/store.js';
import type { AdapterState } from './adapter-types.js';

/** The store seen through an adapter's namespace. */
export function adapterState(store: Store, platform: string): AdapterState {
  const k = (key: string) => `adapter/${platform}/${key}`;
  return {
    get: (key) => store.get(k(key)),
    set: (key, value, options) => store.set(k(key), value, options),
    setIfAbsent: (key, value, options) => store.setIfAbsent(k(key), value, options),
    delete: (key) => store.delete(k(key)),
    flush: () => store.flush(),
  };
}
