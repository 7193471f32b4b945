// Load balancing: a better layout proposed from the measured per-country costs of an evaluation.
import Parallel

extension WorldEvaluator {
    /// Propose the layout for the measured costs; kept only when it lowers the imbalance by more than two
    /// points. Every rank decides the same from the gathered costs.
    func planRebalance() {
        rebalanced = true
        let proposed = Self.layout(costs: costs, shocks: income.count, ranks: communicator.size, mode: gridBlocks)
        // Never more pieces on a rank than at the start: each piece holds a whole country's arrays, and the
        // memory estimate checked before the run counts the starting layout's pieces.
        if proposed != layout, proposed.maxPieces <= layout.maxPieces,
           proposed.imbalance(costs: costs) < layout.imbalance(costs: costs) - 0.02 {
            pendingLayout = proposed
        }
    }
}
