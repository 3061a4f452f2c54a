/**
 * `longhaul/testing`: a scripted stand-in for Claude, for tests of Longhaul and of
 * agents built on it. See `ScriptedModelServer`; `McpTestServer` is a real MCP
 * server for agents with `mcp_servers`.
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
export { UnscriptedCallError, type RecordedAnswer, type RecordedCall, type RecordedRequest, type ReportedUsage } from './call-log.ts';
export type { ApiErrorType } from './api-errors.ts';
export { demoAgentScript, QUICKSTART_TASK } from './demo-agent-script.ts';
export {
  McpTestServer,
  type McpTestOAuthOptions,
  type McpTestServerOptions,
  type McpTestToolConfig,
  type McpTestToolHandler,
  type OAuthClientAuthMethod,
  type RecordedMcpHttpRequest,
  type RecordedMcpToolCall,
  type RecordedTokenRequest,
} from './mcp-test-server.ts';
export { DEFAULT_TEST_ORDERS, TINY_PNG_BASE64 } from './mcp-test-tools.ts';
export { userMessage } from './user-events.ts';
