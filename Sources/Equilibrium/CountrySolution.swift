// One country's solution as a value: its household policy and stationary distribution (a warm start,
// a checkpoint's world solution), as it travels between ranks.
import HATModel
import Parallel

/// One country's solved household policy and stationary distribution: a warm start, or a checkpoint's
/// world solution.
public struct CountrySolution: Sendable, Equatable, Packable {
    public var policy: HouseholdPolicy
    /// λ, `[shock][asset]`.
    public var masses: [Double]

    public init(policy: HouseholdPolicy, masses: [Double]) { self.policy = policy; self.masses = masses }

    public func pack(into m: inout MessageWriter) {
        m.write(policy.consumption); m.write(policy.values); m.write(masses)
    }
    public init(unpacking m: inout MessageReader) throws {
        policy = HouseholdPolicy(consumption: try m.read(), values: try m.read())
        masses = try m.read()
    }
}
