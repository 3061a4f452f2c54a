import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as an OTLP/HTTP JSON export carries it, with its attributes flattened. */
export type ReceivedSpan = {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's `SpanKind`: 2 is SERVER, 3 CLIENT. */
  kind: number;
  serviceName: string | undefined;
  attributes: Record<string, unknown>;
};

/**
 * One data point of a metric as an OTLP/HTTP JSON export carries it: a sum's or gauge's
 * `value`, a histogram's `count` and `sum`. Exports are cumulative, so a later point of the
 * same series supersedes an earlier one.
 */
export type ReceivedPoint = {
  metric: string;
  kind: 'sum' | 'gauge' | 'histogram';
  unit: string;
  serviceName: string | undefined;
  attributes: Record<string, unknown>;
  value?: number;
  count?: number;
  sum?: number;
};

export type OtlpReceiver = {
  /** The traces URL, for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `startTelemetry`. */
  tracesUrl: string;
  /** The metrics URL, for `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or `startMetrics`. */
  metricsUrl: string;
  /** Every span received so far, in arrival order. */
  spans: ReceivedSpan[];
  /** Every metric data point received so far, in arrival order. */
  points: ReceivedPoint[];
  /** How many export requests arrived (any path). */
  requests: number;
  [Symbol.asyncDispose](): Promise<void>;
};

type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: AnyValue[] } };
type KeyValue = { key: string; value: AnyValue };
type ExportRequest = {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: KeyValue[] }[] }[];
  }[];
};

type DataPoint = { attributes?: KeyValue[]; asInt?: number | string; asDouble?: number; count?: number | string; sum?: number };
type MetricsExportRequest = {
  resourceMetrics?: {
    resource?: { attributes?: KeyValue[] };
    scopeMetrics?: { metrics?: { name: string; unit?: string; sum?: { dataPoints?: DataPoint[] }; gauge?: { dataPoints?: DataPoint[] }; histogram?: { dataPoints?: DataPoint[] } }[] }[];
  }[];
};

/**
 * An OTLP/HTTP collector in this process, on a free port: accepts `POST /v1/traces` and
 * `POST /v1/metrics` in the JSON encoding and keeps the spans and data points. Dispose to close it.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const points: ReceivedPoint[] = [];
  const receiver = { tracesUrl: '', metricsUrl: '', spans, points, requests: 0 };
  const server = createServer((req, res) => {
    receiver.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || (req.url !== '/v1/traces' && req.url !== '/v1/metrics') || !req.headers['content-type']?.includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (req.url === '/v1/traces') spans.push(...spansOf(body as ExportRequest));
      else points.push(...pointsOf(body as MetricsExportRequest));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.tracesUrl = `${base}/v1/traces`;
  receiver.metricsUrl = `${base}/v1/metrics`;
  return Object.assign(receiver, {
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

function spansOf(request: ExportRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const serviceName = attributesOf(resourceSpans.resource?.attributes)['service.name'];
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        name: span.name,
        kind: span.kind,
        serviceName: typeof serviceName === 'string' ? serviceName : undefined,
        attributes: attributesOf(span.attributes),
      })),
    );
  });
}

function pointsOf(request: MetricsExportRequest): ReceivedPoint[] {
  return (request.resourceMetrics ?? []).flatMap((resourceMetrics) => {
    const serviceName = attributesOf(resourceMetrics.resource?.attributes)['service.name'];
    return (resourceMetrics.scopeMetrics ?? []).flatMap((scope) =>
      (scope.metrics ?? []).flatMap((metric) => {
        const kind = metric.histogram ? 'histogram' : metric.gauge ? 'gauge' : 'sum';
        const dataPoints = (metric.histogram ?? metric.gauge ?? metric.sum)?.dataPoints ?? [];
        return dataPoints.map((point) => ({
          metric: metric.name,
          kind,
          unit: metric.unit ?? '',
          serviceName: typeof serviceName === 'string' ? serviceName : undefined,
          attributes: attributesOf(point.attributes),
          ...(kind === 'histogram' ? { count: Number(point.count ?? 0), sum: point.sum ?? 0 } : { value: point.asDouble ?? Number(point.asInt ?? 0) }),
        }));
      }),
    );
  });
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

function valueOf(value: AnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}
