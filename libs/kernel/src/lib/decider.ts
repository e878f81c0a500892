/*
 * The shape of an event-sourced aggregate's logic: `decide` turns a command and the current state
 * into the events to append (or throws a DomainError), `evolve` folds one event into the state, and
 * `initialState` is the state of a stream with no events. Pure functions: no I/O, no clock, no
 * framework, so they are unit-tested with plain values.
 */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
}

/** The state after `events`, folded from the decider's initial state. */
export function fold<Command, Event, State>(decider: Decider<Command, Event, State>, events: readonly Event[]): State {
  return events.reduce((state, event) => decider.evolve(state, event), decider.initialState);
}
