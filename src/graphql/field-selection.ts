import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
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
  const included = (node: SelectionNode) => {
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
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}
