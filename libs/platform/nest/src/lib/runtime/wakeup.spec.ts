import { Wakeup } from './wakeup';

describe('Wakeup', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const settled = async (promise: Promise<void>): Promise<boolean> => {
    let done = false;
    void promise.then(() => (done = true));
    await Promise.resolve();
    await Promise.resolve();
    return done;
  };

  it('resolves when woken, before the interval', async () => {
    const wakeup = new Wakeup();
    const waiting = wakeup.wait(60_000);
    expect(await settled(waiting)).toBe(false);
    wakeup.wake();
    expect(await settled(waiting)).toBe(true);
  });

  it('remembers a wake-up that came while nobody waited, once', async () => {
    const wakeup = new Wakeup();
    wakeup.wake();
    expect(await settled(wakeup.wait(60_000))).toBe(true);
    expect(await settled(wakeup.wait(60_000))).toBe(false);
  });

  it('resolves after the interval without a wake-up', async () => {
    const wakeup = new Wakeup();
    const waiting = wakeup.wait(1_000);
    jest.advanceTimersByTime(999);
    expect(await settled(waiting)).toBe(false);
    jest.advanceTimersByTime(1);
    expect(await settled(waiting)).toBe(true);
  });
});
