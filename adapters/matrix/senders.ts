// Who sent an event, for the events the adapter has seen or sent (a reply names whom it answers; a reply
// to the bot is recognised without asking the server). Bounded: the oldest entries go first.
export class EventSenders {
  private readonly map = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  remember(eventId: string, sender: string): void {
    this.map.delete(eventId);
    this.map.set(eventId, sender);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }

  get(eventId: string): string | undefined {
    return this.map.get(eventId);
  }
}
