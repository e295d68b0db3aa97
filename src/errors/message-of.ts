/** An error's message, whatever realm or type it comes from (a thrown string, a foreign Error...). */
export function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}
