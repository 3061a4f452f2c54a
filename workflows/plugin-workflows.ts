/**
 * The workflows of a worker with `LonghaulPlugin`: the worker's own (the module its
 * `workflowsPath` names, which the plugin's bundler configuration aliases as
 * `__longhaul_host_workflows`) and Longhaul's. A name both export would silently be
 * neither's (star exports drop it), so the plugin fails such a bundle.
 */
export * from '__longhaul_host_workflows';
export * from './index.ts';
