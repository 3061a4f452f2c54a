/** The model's id, whether an agent names it as a string or as `{ id, … }`. */
export function modelId(model: string | { id: string }): string {
  return typeof model === 'string' ? model : model.id;
}
