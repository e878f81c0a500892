import { ReceivedRequest, startReceiver } from '@audit/testing';

/**
 * A stand-in SIEM whose behaviour a scenario switches at run time: `ok` answers 200, `fail` 500,
 * `hold` keeps every request open without an answer (a destination that times out, or deliveries
 * that are in flight when the streamer dies). Leaving `hold` answers the held requests that are
 * still open with 503, so nothing held counts as delivered.
 */
export type ReceiverMode = 'ok' | 'fail' | 'hold';

export interface FaultyReceiver {
  url: string;
  requests: ReceivedRequest[];
  mode: () => ReceiverMode;
  setMode: (mode: ReceiverMode) => void;
  /** Requests currently held open (mode `hold`). */
  held: () => number;
  /** Distinct audit events answered 2xx (by the body's id), and how many 2xx answers each got. */
  delivered: () => Map<string, Delivered>;
  close: () => Promise<void>;
}

export interface Delivered {
  count: number;
  eventType: string;
  correlationId: string;
}

export async function startFaultyReceiver(initial: ReceiverMode = 'ok'): Promise<FaultyReceiver> {
  let mode = initial;
  let held: Array<(status: number) => void> = [];
  const receiver = await startReceiver((): number | Promise<number> => {
    if (mode === 'ok') return 200;
    if (mode === 'fail') return 500;
    return new Promise<number>((resolve) => held.push(resolve));
  });
  const release = () => {
    for (const answer of held) answer(503);
    held = [];
  };
  return {
    url: receiver.url,
    requests: receiver.requests,
    mode: () => mode,
    setMode: (next) => {
      mode = next;
      if (next !== 'hold') release();
    },
    held: () => held.length,
    delivered: () => {
      const delivered = new Map<string, Delivered>();
      for (const r of receiver.requests) {
        if (r.answered === undefined || r.answered < 200 || r.answered > 299) continue;
        const event = JSON.parse(r.body) as { id: string; event_type: string; details: { correlation_id?: string } };
        const seen = delivered.get(event.id);
        if (seen) seen.count += 1;
        else
          delivered.set(event.id, {
            count: 1,
            eventType: event.event_type,
            correlationId: event.details.correlation_id ?? '',
          });
      }
      return delivered;
    },
    close: async () => {
      release();
      await receiver.close();
    },
  };
}
