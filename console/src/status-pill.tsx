/** A session's or thread's status as a coloured pill. */
export function StatusPill({ status }: { status: string }) {
  return <span className={`pill pill-${status.replace(/\s+/g, '-')}`}>{status}</span>;
}
