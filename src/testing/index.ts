/**
 * `longhaul/testing`: a scripted stand-in for Claude, for tests of Longhaul and of
 * agents built on it. See `ScriptedModelServer`.
 */
export { ScriptedModelServer, type ScriptedModelServerOptions, type WaitForCallsOptions } from './scripted-model-server.ts';
export {
  parseTurn,
  redactedThinking,
  reply,
  text,
  thinking,
  toolUse,
  type Script,
  type ScriptContext,
  type ScriptFunction,
  type ScriptedContentBlock,
  type ScriptedFault,
  type ScriptedFaultKind,
  type ScriptedRedactedThinkingBlock,
  type ScriptedReply,
  type ScriptedRequest,
  type ScriptedTextBlock,
  type ScriptedThinkingBlock,
  type ScriptedToolUseBlock,
  type ScriptedTurn,
  type ScriptedUsage,
} from './script.ts';
export { lastToolResults, lastUserMessage, lastUserText, type ToolResultWithText } from './request-readers.ts';
export { UnscriptedCallError, type RecordedAnswer, type RecordedCall, type RecordedRequest } from './call-log.ts';
export type { ApiErrorType } from './api-errors.ts';
export { demoAgentScript, QUICKSTART_TASK } from './demo-agent-script.ts';
