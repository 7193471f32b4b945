// Which rank solves which piece of which country: the grid-block mode, the layout for given costs, and
// the workspaces of this rank's pieces.
import HATModel
import Parallel

/// How a world evaluation uses ranks beyond whole countries (see `WorkLayout`).
public enum GridBlockMode: String, Sendable, CaseIterable {
    /// Split countries into blocks of income states only when ranks outnumber countries.
    case auto
    /// Always cut the (country, income state) rows into equal-cost pieces, one per rank.
    case on
    /// Whole countries only (extra ranks idle).
    case off
}

extension WorldEvaluator {
    /// The layout for given per-country costs. Equal costs give whole countries in `Partition`'s blocks (the
    /// layout an evaluator starts with).
    public static func layout(costs: [Double], shocks: Int, ranks: Int, mode: GridBlockMode) -> WorkLayout {
        let m = costs.count
        let split = mode == .on || (mode == .auto && ranks > m)
        if split { return .blocks(costs: costs, shocks: shocks, ranks: ranks) }
        if Set(costs).count <= 1 {
            let partition = Partition(count: m, parts: ranks)
            return WorkLayout(countries: m, shocks: shocks, pieces: (0..<ranks).map { r in
                partition.range(of: r).map { WorkLayout.Piece(country: $0, shocks: 0..<shocks) }
            })
        }
        return .countries(costs: costs, shocks: shocks, ranks: ranks)
    }

    /// Workspaces for this rank's pieces: `reuse` keeps existing ones (same country, same rows), the others
    /// are new and share one scratch (rebuilt when the sizes changed).
    func buildWorkspaces(reuse: [Int: (HouseholdSolver, StationaryDistribution)] = [:]) throws {
        let na = model.assetPoints, nS = income.count, nJ = world.count
        if scratch == nil || scratch!.assetCount != na || scratch!.shockCount != nS || scratch!.varietyCount != nJ {
            scratch = HouseholdScratch(assets: na, shocks: nS, varieties: nJ)
        }
        households = [:]
        distributions = [:]
        for piece in pieces {
            if let (hh, dist) = reuse[piece.country] {
                households[piece.country] = hh; distributions[piece.country] = dist
            } else {
                households[piece.country] = HouseholdSolver(assets: na, shocks: nS, varieties: nJ, scratch: scratch)
                distributions[piece.country] = StationaryDistribution(assets: na, shocks: nS)
            }
        }
        try buildExchanges()
        workspaceBuilds += 1
    }

    /// One line describing the layout and its measured imbalance, for the log.
    public func layoutDescription() -> String {
        layout.description(names: world.names)
    }
}
