// The log lines of the last few deployments (a deploy script's output, the flow's own notes), kept
// in memory so a watcher that connects after they were emitted still sees them: `flip deploy`
// opens its event stream a moment after the deployment started, and a command platform prints
// from its first millisecond. Bounded per deployment and in deployments; not persisted.
export interface LogLine {
  at: number;
  message: string;
}

const DEPLOYMENTS_KEPT = 5;
const LINES_KEPT = 1000;

export class RecentLogs {
  private readonly byDeployment = new Map<string, LogLine[]>();

  add(deploymentId: string, line: LogLine): void {
    let lines = this.byDeployment.get(deploymentId);
    if (!lines) {
      lines = [];
      this.byDeployment.set(deploymentId, lines);
      // A Map iterates in insertion order: the first key is the oldest deployment.
      if (this.byDeployment.size > DEPLOYMENTS_KEPT) this.byDeployment.delete(this.byDeployment.keys().next().value as string);
    }
    lines.push(line);
    if (lines.length > LINES_KEPT) lines.splice(0, lines.length - LINES_KEPT);
  }

  of(deploymentId: string): LogLine[] {
    return [...(this.byDeployment.get(deploymentId) ?? [])];
  }
}
