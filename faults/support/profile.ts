/**
 * How big each scenario is. `full` (default) is the reference run; `short` (FAULTS_PROFILE=short,
 * for CI) keeps every scenario and every fault, with less traffic and a shorter Kafka outage.
 */
export interface FaultsProfile {
  name: 'full' | 'short';
  /** HTTP actions (release creations and updates) driven through release-service per scenario. */
  actions: number;
  /** Concurrent HTTP clients of the load driver: moderate, the machine is shared. */
  concurrency: number;
  /** Pace of the traffic; it flows for as long as a fault lasts, `actions` is the least sent. */
  ratePerSecond: number;
  /** SIGKILLs of the recorder in scenario 1 (the second one while it catches up). */
  recorderKills: number;
  /** How long the Kafka broker stays down in scenario 3. */
  kafkaOutageMs: number;
  /** Times the recorder's PostgreSQL connections are cut in scenario 4. */
  connectionCuts: number;
  /** Poison messages of each kind in scenario 6. */
  poisonPerKind: number;
  /** Scenario 7: clients racing on one release, and rounds of that race. */
  racingClients: number;
  raceRounds: number;
  /** Requests held past the delivery timeout before the destination of scenario 5 recovers. */
  destinationTimeouts: number;
  /** Deadline for the recorder and every destination to converge after the fault is over. */
  convergeTimeoutMs: number;
}

const PROFILES: Record<FaultsProfile['name'], FaultsProfile> = {
  full: {
    name: 'full',
    actions: 1000,
    concurrency: 6,
    ratePerSecond: 60,
    recorderKills: 2,
    kafkaOutageMs: 30_000,
    connectionCuts: 4,
    poisonPerKind: 20,
    racingClients: 16,
    raceRounds: 12,
    destinationTimeouts: 8,
    convergeTimeoutMs: 180_000,
  },
  short: {
    name: 'short',
    actions: 200,
    concurrency: 4,
    ratePerSecond: 25,
    recorderKills: 1,
    kafkaOutageMs: 10_000,
    connectionCuts: 2,
    poisonPerKind: 5,
    racingClients: 8,
    raceRounds: 5,
    destinationTimeouts: 3,
    convergeTimeoutMs: 120_000,
  },
};

export function faultsProfile(): FaultsProfile {
  const name = process.env['FAULTS_PROFILE'] ?? 'full';
  if (name !== 'full' && name !== 'short') throw new Error(`FAULTS_PROFILE must be full or short, not ${name}`);
  return PROFILES[name];
}
