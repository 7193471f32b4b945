// The values a household solve or step takes and returns: the policy (c, v), a step's output and how a
// solve ended.

/// How a household solve ended.
public struct HouseholdSolveStats: Sendable {
    /// Coleman steps taken in the loop (the final extra step is not counted).
    public var iterations: Int
    public var converged: Bool
    /// max |c⁽ⁿ⁺¹⁾ − c⁽ⁿ⁾| at the last loop step.
    public var policyChange: Double

    public init(iterations: Int, converged: Bool, policyChange: Double) {
        self.iterations = iterations; self.converged = converged; self.policyChange = policyChange
    }
}

/// Consumption and values on the `[variety][shock][asset]` layout: the input and output of a Coleman step.
public struct HouseholdPolicy: Sendable, Equatable {
    public var consumption: [Double]
    public var values: [Double]
    public init(consumption: [Double], values: [Double]) { self.consumption = consumption; self.values = values }
}

/// One Coleman step's output.
public struct HouseholdStep: Sendable {
    public var policy: HouseholdPolicy
    /// a′ of each state and variety.
    public var assetPolicy: [Double]
    /// max|c′ − c|.
    public var change: Double
}
