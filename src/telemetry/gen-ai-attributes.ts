import type { Attributes } from '@opentelemetry/api';
import type { Usage } from '../core/usage.ts';

/** The attributes a model call's span starts with (OpenTelemetry's `gen_ai.*` conventions). */
export function modelRequestAttributes({ model, sessionId }: { model: string; sessionId: string }): Attributes {
  return { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'anthropic', 'gen_ai.request.model': model, 'longhaul.session.id': sessionId };
}

/** What a model call's span learns from its answer: tokens (cache reads and writes too), cost, stop reason. */
export function modelResponseAttributes({ usage, costNanos, stopReason }: { usage: Usage; costNanos?: number | undefined; stopReason: string | null }): Attributes {
  return {
    'gen_ai.usage.input_tokens': usage.input_tokens,
    'gen_ai.usage.output_tokens': usage.output_tokens,
    'gen_ai.usage.cache_read.input_tokens': usage.cache_read_input_tokens,
    'gen_ai.usage.cache_creation.input_tokens': usage.cache_creation_input_tokens,
    ...(stopReason ? { 'gen_ai.response.finish_reasons': [stopReason] } : {}),
    ...(costNanos !== undefined ? { 'longhaul.model.cost_usd': costNanos / 1e9 } : {}),
  };
}

/** The attributes a tool call's span starts with. */
export function toolCallAttributes({ name, toolUseId, sessionId }: { name: string; toolUseId: string; sessionId: string }): Attributes {
  return { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': name, 'gen_ai.tool.call.id': toolUseId, 'longhaul.session.id': sessionId };
}
