import { isTransientDatabaseError, isUniqueViolation, retryTransient } from './errors';

const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });

describe('retryTransient', () => {
  it('runs the transaction again after a deadlock', async () => {
    let calls = 0;
    const result = await retryTransient(async () => {
      calls++;
      if (calls < 3) throw deadlock();
      return 'done';
    });
    expect([result, calls]).toEqual(['done', 3]);
  });

  it('gives up after the last attempt, and never retries other errors', async () => {
    let calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw deadlock();
      }, 2),
    ).rejects.toThrow('deadlock');
    expect(calls).toBe(2);
    await expect(
      retryTransient(async () => {
        calls++;
        throw new Error('unique violation');
      }),
    ).rejects.toThrow('unique');
    expect(calls).toBe(3);
  });

  it('knows the SQLSTATEs of deadlocks and serialization failures', () => {
    expect(isTransientDatabaseError({ code: '40001' })).toBe(true);
    expect(isTransientDatabaseError({ code: '23505' })).toBe(false);
  });
});

describe('isUniqueViolation', () => {
  const violation = Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'destinations_name_key' });

  it('recognises a unique violation, of the named constraint when one is given', () => {
    expect(isUniqueViolation(violation)).toBe(true);
    expect(isUniqueViolation(violation, 'destinations_name_key')).toBe(true);
    expect(isUniqueViolation(violation, 'other_key')).toBe(false);
  });

  it('is false for other errors', () => {
    expect(isUniqueViolation(Object.assign(new Error('fk'), { code: '23503' }))).toBe(false);
    expect(isUniqueViolation(new Error('plain'))).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
  });
});
