import { expect, it } from 'vitest';
import { FailureLimiter } from './failure-limiter.js';

it('refuses a key once it failed max times in the window, and forgives it when the window ends', () => {
  const clock = { ms: 0 };
  const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 60_000, now: () => clock.ms });
  expect(() => limiter.check('10.0.0.1')).not.toThrow();
  expect([limiter.fail('10.0.0.1'), limiter.fail('10.0.0.1'), limiter.fail('10.0.0.1')]).toEqual([
    false,
    false,
    true,
  ]);
  expect(() => limiter.check('10.0.0.1')).toThrow(expect.objectContaining({ code: 'RATE_LIMITED' }));
  // Other addresses are not affected.
  expect(() => limiter.check('10.0.0.2')).not.toThrow();
  clock.ms = 59_999;
  expect(() => limiter.check('10.0.0.1')).toThrow();
  clock.ms = 60_000;
  expect(() => limiter.check('10.0.0.1')).not.toThrow();
  expect(limiter.fail('10.0.0.1')).toBe(false);
});

it('keeps memory bounded under failures from very many addresses', () => {
  const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 60_000, now: () => 0 });
  for (let i = 0; i < 250_000; i++) limiter.fail(`a${i}`);
  // The newest are still tracked; the oldest were let go rather than growing without bound.
  limiter.fail('a249999');
  expect(() => limiter.check('a249999')).toThrow();
  expect(() => limiter.check('a0')).not.toThrow();
});
