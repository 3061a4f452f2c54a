import type { Client } from '@temporalio/client';

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

export type ActivitySpan = { name: string; scheduledMs: number; startedMs: number; completedMs: number };
export type WorkflowTaskSpan = { scheduledMs: number; startedMs: number; completedMs: number };
export type HistoryTimeline = { startedMs: number; activities: ActivitySpan[]; workflowTasks: WorkflowTaskSpan[]; events: number };

function toMs(time: Timestamp): number {
  if (!time) return Number.NaN;
  return Number(String(time.seconds ?? 0)) * 1000 + (time.nanos ?? 0) / 1e6;
}

/**
 * Activity and workflow-task spans of one workflow run, from the server's
 * history timestamps (same host clock as the bench's `nowMs`).
 */
export async function historyTimeline(client: Client, workflowId: string): Promise<HistoryTimeline> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const activities = new Map<string, ActivitySpan>();
  const tasks = new Map<string, WorkflowTaskSpan>();
  let startedMs = Number.NaN;
  for (const event of events) {
    const at = toMs(event.eventTime);
    const id = String(event.eventId);
    if (event.workflowExecutionStartedEventAttributes) startedMs = at;
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) activities.set(id, { name: scheduled.activityType?.name ?? '?', scheduledMs: at, startedMs: Number.NaN, completedMs: Number.NaN });
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const span = activities.get(String(started.scheduledEventId));
      if (span) span.startedMs = at;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const span = activities.get(String(completed.scheduledEventId));
      if (span) span.completedMs = at;
    }
    if (event.workflowTaskScheduledEventAttributes) tasks.set(id, { scheduledMs: at, startedMs: Number.NaN, completedMs: Number.NaN });
    const taskStarted = event.workflowTaskStartedEventAttributes;
    if (taskStarted) {
      const span = tasks.get(String(taskStarted.scheduledEventId));
      if (span) span.startedMs = at;
    }
    const taskCompleted = event.workflowTaskCompletedEventAttributes;
    if (taskCompleted) {
      const span = tasks.get(String(taskCompleted.scheduledEventId));
      if (span) span.completedMs = at;
    }
  }
  return { startedMs, activities: [...activities.values()], workflowTasks: [...tasks.values()], events: events.length };
}

export type GapStats = { p50_ms: number; mean_ms: number };

/**
 * The hand-off between consecutive activities of a sequential loop, split at
 * the workflow task that schedules the next one: activity completed → task
 * scheduled → task started (dispatched to the worker) → task completed (the
 * next activity is scheduled in that completion) → activity started.
 */
export function activityHandoffs(timeline: HistoryTimeline): Record<string, GapStats> {
  const columns: Record<string, number[]> = {
    activity_schedule_to_start: [],
    activity_start_to_close: [],
    activity_close_to_next_scheduled: [],
    close_to_workflow_task_scheduled: [],
    workflow_task_schedule_to_start: [],
    workflow_task_start_to_complete: [],
    workflow_task_complete_to_next_scheduled: [],
  };
  const push = (name: string, value: number) => columns[name]!.push(value);
  const { activities, workflowTasks } = timeline;
  for (let i = 0; i < activities.length; i++) {
    const activity = activities[i]!;
    push('activity_schedule_to_start', activity.startedMs - activity.scheduledMs);
    push('activity_start_to_close', activity.completedMs - activity.startedMs);
    const next = activities[i + 1];
    if (!next || next.scheduledMs < activity.completedMs) continue; // ran in parallel (e.g. the sandbox warm-up)
    push('activity_close_to_next_scheduled', next.scheduledMs - activity.completedMs);
    const task = workflowTasks.find((t) => t.scheduledMs >= activity.completedMs - 0.001);
    if (!task) continue;
    push('close_to_workflow_task_scheduled', task.scheduledMs - activity.completedMs);
    push('workflow_task_schedule_to_start', task.startedMs - task.scheduledMs);
    push('workflow_task_start_to_complete', task.completedMs - task.startedMs);
    push('workflow_task_complete_to_next_scheduled', next.scheduledMs - task.completedMs);
  }
  return Object.fromEntries(
    Object.entries(columns).map(([name, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const p50 = sorted[Math.max(0, Math.ceil(sorted.length / 2) - 1)] ?? Number.NaN;
      const mean = values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
      return [name, { p50_ms: Math.round(p50 * 100) / 100, mean_ms: Math.round(mean * 100) / 100 }];
    }),
  );
}
