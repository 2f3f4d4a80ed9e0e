/** The table of controls: each derived from the report's data, in this order. */
import type { Control, ControlSummary } from '../model.ts';
import type { ControlContext, ControlDefinition } from './control.ts';
import { ledgerIntegrity, trustChainValidity } from './meshidentity.ts';
import { tenet2, tenet3, tenet4, tenet6 } from './nist-800-207.ts';
import { pci421 } from './pci-dss.ts';
import { cc61, cc66, cc67 } from './soc2.ts';

export type { ControlContext } from './control.ts';

export const CONTROLS: readonly ControlDefinition[] = [tenet2, tenet3, tenet4, tenet6, pci421, cc61, cc66, cc67, ledgerIntegrity, trustChainValidity];

export function evaluateControls(ctx: ControlContext): Control[] {
  return CONTROLS.map(({ evaluate, ...meta }) => ({ ...meta, ...evaluate(ctx) }));
}

export function summarizeControls(controls: readonly Control[]): ControlSummary {
  return {
    pass: controls.filter((c) => c.status === 'pass').length,
    fail: controls.filter((c) => c.status === 'fail').length,
    notApplicable: controls.filter((c) => c.status === 'not-applicable').length,
  };
}
