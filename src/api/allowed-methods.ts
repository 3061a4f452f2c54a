/**
 * The methods served on `path`, as `Allow` lists them: those of the most specific routes that
 * match it. `/work/poll` is matched by `/work/:work_id` too, but routing gives a literal
 * segment precedence, so only the literal route's methods are served there.
 */
export function allowedMethods(routes: readonly { method: string; path: string }[], path: string): string[] {
  const matching = routes.filter((route) => route.method !== 'ALL' && route.method !== 'HEAD' && patternOf(route.path).test(path));
  const fewest = Math.min(...matching.map((route) => paramsIn(route.path)));
  const methods = new Set<string>();
  for (const route of matching.filter((r) => paramsIn(r.path) === fewest)) {
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
  }
  return [...methods];
}

const patterns = new Map<string, RegExp>();

function patternOf(routePath: string): RegExp {
  let pattern = patterns.get(routePath);
  if (pattern === undefined) {
    const source = routePath
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    pattern = new RegExp(`^${source}$`);
    patterns.set(routePath, pattern);
  }
  return pattern;
}

const paramsIn = (routePath: string) => routePath.split('/').filter((segment) => segment.startsWith(':')).length;
