import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type FieldNode,
  type GraphQLResolveInfo,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Whether the operation selects `field` of `typeName` directly under the field being resolved
 * (through inline fragments and fragment spreads on that type, @skip and @include honoured). Lets
 * a resolver do work that only one optional subfield needs only when a client asked for it.
 */
export function selectsField(info: GraphQLResolveInfo, typeName: string, field: string): boolean {
  const only = info.fieldNodes.length === 1 ? info.fieldNodes[0] : undefined;
  const key = `${typeName}.${field}`;
  const known = only === undefined ? undefined : withoutDirectives.get(only)?.get(key);
  if (known !== undefined) return known;
  let directives = false;
  const included = (node: SelectionNode) => {
    if ((node.directives?.length ?? 0) > 0) directives = true;
    const skip = getDirectiveValues(GraphQLSkipDirective, node, info.variableValues);
    if (skip?.['if'] === true) return false;
    const include = getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues);
    return include?.['if'] !== false;
  };
  const onType = (condition: string | undefined) => condition === undefined || condition === typeName;
  const visit = (selectionSet: SelectionSetNode | undefined): boolean => {
    if (!selectionSet) return false;
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === field) return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (onType(selection.typeCondition?.name.value) && visit(selection.selectionSet)) return true;
      } else {
        const fragment = info.fragments[selection.name.value];
        if (fragment && onType(fragment.typeCondition.name.value) && visit(fragment.selectionSet)) return true;
      }
    }
    return false;
  };
  const selects = info.fieldNodes.some((node) => visit(node.selectionSet));
  if (only !== undefined && !directives) {
    let byField = withoutDirectives.get(only);
    if (byField === undefined) withoutDirectives.set(only, (byField = new Map()));
    byField.set(key, selects);
  }
  return selects;
}

/**
 * The answers for a field node (one per parsed document: yoga's parser cache) whose selections,
 * as far as they were walked, have no @skip or @include: those depend on nothing but the document,
 * so a chat's subscribe does not walk its selection again. A walk that stopped early at a match
 * saw no directive on the way to it, and so answers for every request.
 */
const withoutDirectives = new WeakMap<FieldNode, Map<string, boolean>>();
