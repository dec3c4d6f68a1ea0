// The requests in flight on one slot (or on the preview listener): added and removed once per
// request, counted by the metrics, copied by a drain. Not a Set on purpose. V8 rebuilds a Set's
// hash table every few dozen add/delete pairs and the old table keeps a link to the new one and
// its entries; once the long-lived Set's table sits in the old generation, that chain keeps every
// request's objects alive through young-generation GCs until the next full GC. Under load that
// promoted ~3 MB per scavenge, ran a major GC every ~0.6 s and cost ~8 µs of CPU per request on
// V8's helper threads. A dense array with each member's index on the member allocates nothing per
// request once it has grown.

/** What the list needs from a member: a field it owns (-1 while the member is in no list). */
export interface InFlightMember {
  inFlightIndex: number;
}

export class InFlight<Member extends InFlightMember> implements Iterable<Member> {
  private readonly members: Member[] = [];

  get size(): number {
    return this.members.length;
  }

  /** Adds `member`, which must be in no list (each exchange belongs to one slot or the preview). */
  add(member: Member): void {
    member.inFlightIndex = this.members.length;
    this.members.push(member);
  }

  /** Removes `member` if it is here: the last member takes its place, so the order is not kept. */
  delete(member: Member): boolean {
    const index = member.inFlightIndex;
    if (index < 0 || this.members[index] !== member) return false;
    const last = this.members.pop() as Member;
    if (last !== member) {
      this.members[index] = last;
      last.inFlightIndex = index;
    }
    member.inFlightIndex = -1;
    return true;
  }

  has(member: Member): boolean {
    const index = member.inFlightIndex;
    return index >= 0 && this.members[index] === member;
  }

  /** A copy: the caller may keep it while members come and go (a drain does). */
  snapshot(): Member[] {
    return this.members.slice();
  }

  [Symbol.iterator](): Iterator<Member> {
    return this.snapshot()[Symbol.iterator]();
  }
}
