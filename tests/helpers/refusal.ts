/** The message a raw regime config is refused with (regime/load.ts validateRegime); throws when it is accepted. */
import { validateRegime } from "../../regime/load";

export function refusal(raw: unknown): string {
  try {
    validateRegime(raw);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("the regime was accepted");
}
