/** The worker's own workflows, bundled with Longhaul's by `LonghaulPlugin` (see `plugin-workflows.ts`). */
declare module '__longhaul_host_workflows' {}
