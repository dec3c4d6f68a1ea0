// A small stateful stand-in for one Route 53 hosted zone behind aws-sdk-client-mock: record sets
// listed the way Route 53 lists them (from a start name and type, so a missing record yields the
// next one), UPSERTs that create a change PENDING until GetChange has been asked a number of times.
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  InvalidChangeBatch,
  ListResourceRecordSetsCommand,
  NoSuchChange,
  NoSuchHostedZone,
  Route53Client,
  type ChangeResourceRecordSetsCommandInput,
  type ChangeResourceRecordSetsCommandOutput,
  type GetChangeCommandInput,
  type GetChangeCommandOutput,
  type ListResourceRecordSetsCommandInput,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
} from "@aws-sdk/client-route-53";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";

export const ZONE_ID = "Z1D633PJN98FT9";
export const RECORD = "shop.example.com";
export const BLUE_ALB = { dnsName: "shop-blue-1234567890.eu-west-1.elb.amazonaws.com", hostedZoneId: "Z32O12XQLNTSW2" };
export const GREEN_ALB = { dnsName: "shop-green-987654321.eu-west-1.elb.amazonaws.com", hostedZoneId: "Z32O12XQLNTSW2" };

type CommandName = "ListResourceRecordSets" | "ChangeResourceRecordSets" | "GetChange";

const meta = { $metadata: { httpStatusCode: 200, attempts: 1 } };
const SUBMITTED_AT = new Date("2026-01-01T00:00:00Z");

/** Route 53 stores names lowercased with a final dot. */
function fqdn(name: string): string {
  return `${name.toLowerCase().replace(/\.$/, "")}.`;
}

export class FakeZone {
  readonly mock: AwsClientStub<Route53Client>;
  /** GetChange answers PENDING this many times for each new change before INSYNC (Infinity: never). */
  pendingPolls = 1;
  /** Overrides pendingPolls for the next changes, one entry per change. */
  readonly pendingPollsOfNextChanges: number[] = [];
  private readonly records: ResourceRecordSet[] = [];
  private readonly changes = new Map<string, { polls: number; pendingPolls: number }>();
  private readonly failures: { command: CommandName; error: Error }[] = [];

  constructor() {
    this.mock = mockClient(Route53Client);
    this.mock.on(ListResourceRecordSetsCommand).callsFake((input: ListResourceRecordSetsCommandInput) => this.list(input));
    this.mock.on(ChangeResourceRecordSetsCommand).callsFake((input: ChangeResourceRecordSetsCommandInput) => this.change(input));
    this.mock.on(GetChangeCommand).callsFake((input: GetChangeCommandInput) => this.getChange(input));
    // A neighbour that sorts after the record: listing a missing record returns this one.
    this.put({ Name: "www.example.com", Type: "CNAME", TTL: 300, ResourceRecords: [{ Value: "shop.example.com" }] });
  }

  restore(): void {
    this.mock.restore();
  }

  /** Creates or replaces a record set (no change id: as if made before Flip). */
  put(set: ResourceRecordSet): void {
    const stored = { ...structuredClone(set), Name: fqdn(set.Name ?? "") };
    const index = this.records.findIndex((record) => record.Name === stored.Name && record.Type === stored.Type && record.SetIdentifier === stored.SetIdentifier);
    if (index >= 0) this.records[index] = stored;
    else this.records.push(stored);
    this.records.sort((a, b) => `${a.Name} ${a.Type}`.localeCompare(`${b.Name} ${b.Type}`));
  }

  record(name = RECORD, type = "A"): ResourceRecordSet | undefined {
    return this.records.find((record) => record.Name === fqdn(name) && record.Type === type);
  }

  failNext(command: CommandName, error: Error): void {
    this.failures.push({ command, error });
  }

  /** Every call the router made, in order, as [command, input]. */
  calls(): [string, unknown][] {
    return this.mock.calls().map((call) => [call.args[0].constructor.name.replace(/Command$/, ""), call.args[0].input]);
  }

  private failure(command: CommandName): Error | undefined {
    const index = this.failures.findIndex((failure) => failure.command === command);
    return index < 0 ? undefined : this.failures.splice(index, 1)[0]?.error;
  }

  private checkZone(id: string | undefined): void {
    if (id?.replace(/^\/hostedzone\//, "") !== ZONE_ID) throw new NoSuchHostedZone({ message: `No hosted zone found with ID: ${id}`, $metadata: { httpStatusCode: 404 } });
  }

  private list(input: ListResourceRecordSetsCommandInput): ListResourceRecordSetsCommandOutput {
    const failure = this.failure("ListResourceRecordSets");
    if (failure) throw failure;
    this.checkZone(input.HostedZoneId);
    const start = `${fqdn(input.StartRecordName ?? "")} ${input.StartRecordType ?? ""}`;
    const from = this.records.filter((record) => `${record.Name} ${record.Type}`.localeCompare(start) >= 0);
    const max = input.MaxItems ?? 300;
    return { ...meta, ResourceRecordSets: structuredClone(from.slice(0, max)), IsTruncated: from.length > max, MaxItems: max };
  }

  private change(input: ChangeResourceRecordSetsCommandInput): ChangeResourceRecordSetsCommandOutput {
    const failure = this.failure("ChangeResourceRecordSets");
    if (failure) throw failure;
    this.checkZone(input.HostedZoneId);
    for (const change of input.ChangeBatch?.Changes ?? []) {
      const set = change.ResourceRecordSet;
      if (!set?.Name || !set.Type || (set.AliasTarget === undefined) === (set.ResourceRecords === undefined)) {
        throw new InvalidChangeBatch({ message: "Invalid request", $metadata: { httpStatusCode: 400 } });
      }
      if (change.Action !== "UPSERT") throw new Error(`the fake zone only knows UPSERT, not ${change.Action}`);
      this.put(set);
    }
    const id = `/change/C${String(this.changes.size + 1).padStart(12, "0")}`;
    this.changes.set(id, { polls: 0, pendingPolls: this.pendingPollsOfNextChanges.shift() ?? this.pendingPolls });
    return { ...meta, ChangeInfo: { Id: id, Status: "PENDING", SubmittedAt: SUBMITTED_AT, Comment: input.ChangeBatch?.Comment } };
  }

  private getChange(input: GetChangeCommandInput): GetChangeCommandOutput {
    const failure = this.failure("GetChange");
    if (failure) throw failure;
    const id = `/change/${(input.Id ?? "").replace(/^\/change\//, "")}`;
    const change = this.changes.get(id);
    if (!change) throw new NoSuchChange({ message: `A change with the specified change ID does not exist.`, $metadata: { httpStatusCode: 404 } });
    change.polls += 1;
    const status = change.polls > change.pendingPolls ? "INSYNC" : "PENDING";
    return { ...meta, ChangeInfo: { Id: id, Status: status, SubmittedAt: SUBMITTED_AT } };
  }
}
