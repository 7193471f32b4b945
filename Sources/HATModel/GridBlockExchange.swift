// The interface through which the blocks of a country's split grid exchange rows inside a step.

/// How the blocks of one country's income states talk inside a household or distribution step. HATModel
/// knows no MPI: an implementation over a communicator lives above it (and a test can implement it with
/// threads). Every block calls the methods in the same order.
public protocol GridBlockExchange: AnyObject {
    /// The income states (rows of the `[shock][asset]` layout) this block computes.
    var ownedShocks: Range<Int> { get }
    /// Fill the rows outside `ownedShocks` of each `[shock][asset]` buffer (rows of `rowLength`) from the
    /// blocks that own them.
    func shareRows(_ buffers: [UnsafeMutablePointer<Double>], rowLength: Int) throws
    /// The maximum of `value` over all blocks; NaN if any block's value is NaN.
    func maximum(_ value: Double) throws -> Double
    /// The lexicographically smallest of the blocks' `key`s (all of one length), on every block.
    func first(_ key: [Double]) throws -> [Double]
}
