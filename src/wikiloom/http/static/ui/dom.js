// Building DOM nodes: attributes set as attributes, children appended as nodes or text. Nothing
// passed here is ever parsed as HTML.

/** `<tag attributes…>children…</tag>`; `class` sets the class list, false/null skip. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}
