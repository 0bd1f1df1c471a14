/**
 * Long-lived connections (WebSockets, event streams) held open per client address, so that one
 * client cannot take every socket the gateway has (SUBSCRIPTION_CONNECTIONS_PER_CLIENT).
 */
export class ClientConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly perClient: number) {}

  /** Counts one more for `address`, or false when it already holds its share. */
  take(address: string): boolean {
    const open = this.open.get(address) ?? 0;
    if (open >= this.perClient) return false;
    this.open.set(address, open + 1);
    return true;
  }

  release(address: string): void {
    const left = (this.open.get(address) ?? 1) - 1;
    if (left > 0) this.open.set(address, left);
    else this.open.delete(address);
  }

  /** Addresses holding connections now (the map is bounded by the connections themselves). */
  get addresses(): number {
    return this.open.size;
  }
}
