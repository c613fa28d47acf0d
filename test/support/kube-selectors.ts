/** Field and label selector matching as the kube-apiserver does it (the subset tests need). */

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

type Requirement = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string };

function parseTerms(selector: string | null, forLabels: boolean): Requirement[] {
  if (selector === null || selector.trim() === '') return [];
  return selector.split(',').map((raw) => {
    const term = raw.trim();
    const m = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (m !== null) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! };
    if (!forLabels) throw new Error(`unsupported field selector term "${term}"`);
    return term.startsWith('!')
      ? { key: term.slice(1), op: '!exists' }
      : { key: term, op: 'exists' };
  });
}

function fieldValue(obj: KubeObject, dotted: string): string | undefined {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean'
    ? String(cur)
    : undefined;
}

function matches(req: Requirement, actual: string | undefined): boolean {
  switch (req.op) {
    case '=':
      return actual === req.value;
    case '!=':
      return actual !== req.value;
    case 'exists':
      return actual !== undefined;
    case '!exists':
      return actual === undefined;
  }
}

/** A predicate for `fieldSelector` and `labelSelector` query parameters; throws on a malformed one. */
export function compileSelectors(
  fieldSelector: string | null,
  labelSelector: string | null,
): (o: KubeObject) => boolean {
  const fields = parseTerms(fieldSelector, false);
  const labels = parseTerms(labelSelector, true);
  return (o) =>
    fields.every((r) => matches(r, fieldValue(o, r.key))) &&
    labels.every((r) => matches(r, o.metadata.labels?.[r.key]));
}
