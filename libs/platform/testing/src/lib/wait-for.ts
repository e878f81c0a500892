/**
 * Polls `probe` until it returns a value that is not undefined/false, or fails with `description`
 * and the last observed value once `timeoutMs` has passed. Tests wait on conditions, never on time.
 */
export async function waitFor<T>(
  description: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${description}; last: ${String(last instanceof Error ? last.message : JSON.stringify(last))}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
