// matrix-bot-sdk requires this module at load time but only uses it inside its E2EE code paths, which
// loopbridge never enables. Every export is a class that refuses to be used, so a stray E2EE call fails
// loudly instead of half-working. StoreType is read as a value when the SDK loads, so it is real.
'use strict';

function refusing(name) {
  const message = `end-to-end encryption is not available in loopbridge (${name})`;
  return class {
    constructor() {
      throw new Error(message);
    }
    static initialize() {
      throw new Error(message);
    }
  };
}

const known = { StoreType: Object.freeze({ Sled: 0, Sqlite: 1 }) };

module.exports = new Proxy(known, {
  get(target, name) {
    if (name in target) return target[name];
    // Module loaders and bundlers probe these; they must not look like exports.
    if (typeof name !== 'string' || name === 'then' || name === '__esModule' || name === 'default') return undefined;
    target[name] = refusing(name);
    return target[name];
  },
});
