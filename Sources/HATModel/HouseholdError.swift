// Why a household solve fails, and how the blocks of a split grid agree on which failure to report.

/// Why a household solve failed: a state where the kernel produced something it must not.
public enum HouseholdError: Error, CustomStringConvertible {
    case nonPositiveConsumption(state: Int, shock: Int, variety: Int, iteration: Int, value: Double)
    case nonMonotoneGrid(shock: Int, variety: Int, iteration: Int)
    /// Another block of a split grid failed in this step (it reports where).
    case failedInAnotherBlock(iteration: Int)

    /// A failure as numbers that order like an unsplit solve's loops: (kind, j, s, a, value), kind 0 for a
    /// non-monotone grid (found first, row by row), 1 for a non-positive consumption; no failure sorts last.
    static func key(_ error: HouseholdError?, iteration: Int) -> [Double] {
        switch error {
        case let .nonMonotoneGrid(s, j, _)?: return [0, Double(j), Double(s), 0, 0]
        case let .nonPositiveConsumption(a, s, j, _, c)?: return [1, Double(j), Double(s), Double(a), c]
        default: return [.infinity, 0, 0, 0, 0]
        }
    }

    init(key: [Double], iteration: Int) {
        switch key[0] {
        case 0: self = .nonMonotoneGrid(shock: Int(key[2]), variety: Int(key[1]), iteration: iteration)
        case 1: self = .nonPositiveConsumption(state: Int(key[3]), shock: Int(key[2]), variety: Int(key[1]),
                                               iteration: iteration, value: key[4])
        default: self = .failedInAnotherBlock(iteration: iteration)
        }
    }

    public var description: String {
        switch self {
        case let .nonPositiveConsumption(a, s, j, it, c):
            return "household: consumption \(c) at asset \(a + 1), shock \(s + 1), variety \(j + 1), iteration \(it) (prices outside the feasible region)"
        case let .nonMonotoneGrid(s, j, it):
            return "household: endogenous asset grid not increasing at shock \(s + 1), variety \(j + 1), iteration \(it)"
        case let .failedInAnotherBlock(it):
            return "household: another block of the grid failed at iteration \(it)"
        }
    }
}
