// The error a promise rejects with, for tests that go on to look at its fields (code, status, message).
import { expect } from 'vitest';

/** Awaits `p` and returns its rejection, asserted to be a `type`; fails the test when `p` resolves. */
export async function rejection<E>(p: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as E;
}
