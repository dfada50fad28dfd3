// The one DOM helper the editor's modules share.

/** A new element with a class and, when given, its text. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) { node.className = className; }
  if (text !== undefined) { node.textContent = text; }
  return node;
}
