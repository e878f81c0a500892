import { Database } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { toNumber } from '../sql';
import type { SlotObservation, SlotRef } from './slot-book';

/**
 * A process's fair share of destination `d`'s slots (`d` has columns `id` and `cap`), for the
 * process named by the placeholder `holder`: the whole cap while no other process waits for slots
 * of it, otherwise the cap divided among the processes holding or awaiting them (at least 1; the
 * remainder stays free rather than go to whoever asks first, so nobody is shut out). Also counts
 * the slots under the cap that others hold (`others_held`) and this process holds (`mine`).
 */
export const fairShareSql = (d: string, holder: string): string => `
  select case when fs.waiting = 0 then ${d}.cap else greatest(1, ${d}.cap / (1 + fs.others)) end::int as share,
         (select count(*) from delivery_slots x
           where x.destination_id = ${d}.id and x.slot < ${d}.cap and x.holder <> ${holder} and x.held_until > now())::int as others_held,
         (select count(*) from delivery_slots x
           where x.destination_id = ${d}.id and x.slot < ${d}.cap and x.holder = ${holder} and x.held_until > now())::int as mine
    from (select (select count(*) from delivery_slot_waiters y
                   where y.destination_id = ${d}.id and y.waiter <> ${holder} and y.waiting_until > now()) as waiting,
                 (select count(*) from (
                    select x.holder from delivery_slots x
                     where x.destination_id = ${d}.id and x.holder <> ${holder} and x.held_until > now()
                    union
                    select y.waiter from delivery_slot_waiters y
                     where y.destination_id = ${d}.id and y.waiter <> ${holder} and y.waiting_until > now()
                  ) o) as others) fs`;

export interface Acquisition extends SlotObservation {
  slots: number[];
}

export interface SlotRequest {
  destinationId: number;
  /** More slots wanted, beyond those held. */
  want: number;
  /** This process believes the destination paused (a failure of its own not yet recorded): cap 1. */
  paused: boolean;
}

/**
 * The statements of the fleet's delivery slots (`delivery_slots`, `delivery_slot_waiters`; see
 * DestinationSlots): a few per second per process, none per request. On `Database.autocommit`,
 * synchronously committed: a slot taken must not come back free after a database crash while this
 * process sends on it.
 */
@Injectable()
export class SlotsRepository {
  constructor(private readonly database: Database) {}

  /**
   * Takes up to `want` more slots of each destination, under its cap (1 while paused, so the fleet
   * runs one probe) and within this process's fair share: free rows (never held, released, or
   * expired) first, `FOR UPDATE SKIP LOCKED`, then rows not created yet (a concurrent creator wins,
   * `on conflict do nothing`). A process that got fewer than it wanted is recorded as waiting, so the
   * holders shrink to their share; one that got all of them is waiting no more. Inactive or deleted
   * destinations are left out of the answer.
   */
  async acquire(
    holder: string,
    limit: number,
    leaseMs: number,
    waitMs: number,
    requests: readonly SlotRequest[],
  ): Promise<Acquisition[]> {
    const rows = await this.database.autocommit.query<Record<string, unknown>>(
      `with w as (
         select * from jsonb_to_recordset($5::jsonb) as w(id bigint, want int, paused boolean)
       ), c as (
         select w.id, w.want, coalesce(h.pause_level, 0) > 0 as paused,
                case when coalesce(h.pause_level, 0) > 0 or w.paused then 1 else $2::int end as cap
           from w
           join destinations d on d.id = w.id and d.active
           left join destination_health h on h.destination_id = w.id
       ), p as (
         select c.*, s.share, greatest(0, least(c.want, s.share - s.mine))::int as grant
           from c cross join lateral (${fairShareSql('c', '$1')}) s
       ), free as (
         select x.destination_id, x.slot
           from p cross join lateral (
             select x.destination_id, x.slot from delivery_slots x
              where x.destination_id = p.id and x.slot < p.cap and (x.holder is null or x.held_until <= now())
              order by x.slot
              limit p.grant
              for update skip locked
           ) x
       ), took as (
         update delivery_slots x set holder = $1, held_until = now() + $3::double precision * interval '1 millisecond'
           from free f where x.destination_id = f.destination_id and x.slot = f.slot
         returning x.destination_id, x.slot
       ), missing as (
         select p.id, g.slot, p.grant,
                row_number() over (partition by p.id order by g.slot)
                  + (select count(*) from free f where f.destination_id = p.id) as n
           from p cross join generate_series(0, p.cap - 1) g(slot)
          where p.grant > 0
            and not exists (select 1 from delivery_slots x where x.destination_id = p.id and x.slot = g.slot)
       ), created as (
         insert into delivery_slots (destination_id, slot, holder, held_until)
         select m.id, m.slot, $1, now() + $3::double precision * interval '1 millisecond' from missing m where m.n <= m.grant
         on conflict (destination_id, slot) do nothing
         returning destination_id, slot
       ), got as (
         select destination_id, slot from took union all select destination_id, slot from created
       ), counted as (
         select p.id, p.want, (select count(*) from got where got.destination_id = p.id) as n from p
       ), waiting as (
         insert into delivery_slot_waiters (destination_id, waiter, waiting_until)
         select c.id, $1, now() + $4::double precision * interval '1 millisecond' from counted c where c.n < c.want
         on conflict (destination_id, waiter) do update set waiting_until = excluded.waiting_until
       ), served as (
         delete from delivery_slot_waiters y using counted c where y.destination_id = c.id and y.waiter = $1 and c.n >= c.want
       )
       select p.id, p.paused, p.share,
              coalesce((select array_agg(got.slot order by got.slot) from got where got.destination_id = p.id), '{}') as slots
         from p`,
      [
        holder,
        limit,
        leaseMs,
        waitMs,
        JSON.stringify(requests.map((r) => ({ id: r.destinationId, want: r.want, paused: r.paused }))),
      ],
    );
    return rows.map((r) => ({
      destinationId: toNumber(r['id']),
      paused: r['paused'] === true,
      share: Number(r['share']),
      slots: (r['slots'] as unknown[]).map(Number),
    }));
  }

  /**
   * The tick of a process holding slots: renews `renew` (the others are far from expiry), and reads
   * each held destination's pause and this process's fair share. Returns the slots renewed; one asked
   * for and missing was taken by another process after it expired.
   */
  async maintain(
    holder: string,
    limit: number,
    leaseMs: number,
    held: readonly number[],
    renew: readonly SlotRef[],
    paused: readonly number[],
  ): Promise<Array<SlotObservation & { renewed: number[] }>> {
    const rows = await this.database.autocommit.query<Record<string, unknown>>(
      `with r as (
         select * from jsonb_to_recordset($4::jsonb) as r(id bigint, slot int)
       ), renewed as (
         update delivery_slots x set held_until = now() + $3::double precision * interval '1 millisecond'
           from r where x.destination_id = r.id and x.slot = r.slot and x.holder = $1
         returning x.destination_id, x.slot
       ), c as (
         select d.id, coalesce(h.pause_level, 0) > 0 as paused,
                case when coalesce(h.pause_level, 0) > 0 or d.id = any ($6::bigint[]) then 1 else $2::int end as cap
           from unnest($5::bigint[]) as d(id)
           left join destination_health h on h.destination_id = d.id
       )
       select c.id, c.paused, s.share,
              coalesce((select array_agg(n.slot order by n.slot) from renewed n where n.destination_id = c.id), '{}') as renewed
         from c cross join lateral (${fairShareSql('c', '$1')}) s`,
      [holder, limit, leaseMs, JSON.stringify(renew.map((s) => ({ id: s.destinationId, slot: s.slot }))), held, paused],
    );
    return rows.map((r) => ({
      destinationId: toNumber(r['id']),
      paused: r['paused'] === true,
      share: Number(r['share']),
      renewed: (r['renewed'] as unknown[]).map(Number),
    }));
  }

  /** Frees slots, and ends this process's wait for the destinations in `doneWith`. */
  async release(holder: string, slots: readonly SlotRef[], doneWith: readonly number[]): Promise<void> {
    await this.database.autocommit.query(
      `with r as (
         select * from jsonb_to_recordset($2::jsonb) as r(id bigint, slot int)
       ), freed as (
         update delivery_slots x set holder = null, held_until = null
           from r where x.destination_id = r.id and x.slot = r.slot and x.holder = $1
       )
       delete from delivery_slot_waiters where waiter = $1 and destination_id = any ($3::bigint[])`,
      [holder, JSON.stringify(slots.map((s) => ({ id: s.destinationId, slot: s.slot }))), doneWith],
    );
  }

  /** At a stop: every slot and every wait of this process. */
  async releaseAll(holder: string): Promise<void> {
    await this.database.autocommit.query(
      `with freed as (
         update delivery_slots set holder = null, held_until = null where holder = $1
       )
       delete from delivery_slot_waiters where waiter = $1`,
      [holder],
    );
  }
}
