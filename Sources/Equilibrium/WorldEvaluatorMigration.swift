// Migration to a new layout: moved countries gathered from their old ranks and loaded on their new
// ones, so that warm starts continue exactly.
import HATModel
import Parallel

extension WorldEvaluator {
    /// Move to `proposed` (collective): each moved country is gathered from its old ranks (c, v and λ are
    /// all a warm start needs; the next solve recomputes a′, π and the lotteries) and loaded on its new ones.
    /// The gathered solutions of the countries arriving on a rank are held until the new workspaces exist.
    func relayOut(to proposed: WorkLayout) throws {
        var moved: [Int: CountrySolution] = [:]
        for i in 0..<world.count {
            let before = layout.pieces.map { $0.first { $0.country == i } }
            let after = proposed.pieces.map { $0.first { $0.country == i } }
            guard before != after else { continue }
            if let arrays = try gatherCountry(i), after[communicator.rank] != nil {
                moved[i] = CountrySolution(policy: HouseholdPolicy(consumption: arrays.consumption, values: arrays.values),
                                           masses: arrays.masses)
            }
        }
        // Pieces that stay on this rank with the same rows keep their workspaces; the others are new and load
        // the gathered arrays (old workspaces are released before new ones are allocated where possible).
        let mine = layout.pieces[communicator.rank]
        var reuse: [Int: (HouseholdSolver, StationaryDistribution)] = [:]
        for piece in proposed.pieces[communicator.rank] where mine.contains(piece) {
            reuse[piece.country] = (households[piece.country]!, distributions[piece.country]!)
        }
        households = [:]; distributions = [:]
        layout = proposed
        relaidOut = true
        try buildWorkspaces(reuse: reuse)
        for (i, solution) in moved where reuse[i] == nil {
            households[i]!.load(solution.policy)
            distributions[i]!.load(masses: solution.masses)
        }
    }
}
