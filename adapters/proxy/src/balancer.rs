//! Smooth weighted round robin over an upstream's nodes (the sequence nginx uses: weights 5,1,1
//! give a a b a c a a, not a a a a a b c).

use crate::config::Node;

/// Per-worker round-robin state for one upstream.
#[derive(Debug, Clone)]
pub struct Balancer {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl Balancer {
    /// A balancer for `nodes`.
    pub fn new(nodes: &[Node]) -> Self {
        let weights: Vec<i64> = nodes.iter().map(|n| i64::from(n.weight)).collect();
        let total = weights.iter().sum();
        Self { current: vec![0; weights.len()], weights, total }
    }

    /// The index of the next node, or `None` if every weight is zero.
    pub fn pick(&mut self) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let mut best = None;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.weights[i] > 0 && best.is_none_or(|b: usize| self.current[i] > self.current[b])
            {
                best = Some(i);
            }
        }
        let b = best?;
        self.current[b] -= self.total;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(weights: &[u32]) -> Vec<Node> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Node {
                host: format!("h{i}"),
                port: 1,
                addr: ([127, 0, 0, 1], 1).into(),
                weight: w,
            })
            .collect()
    }

    #[test]
    fn smooth_sequence() {
        let mut b = Balancer::new(&nodes(&[5, 1, 1]));
        let seq: Vec<usize> = (0..7).map(|_| b.pick().unwrap()).collect();
        assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn proportions_and_zero_weights() {
        let mut b = Balancer::new(&nodes(&[3, 0, 1]));
        let mut counts = [0; 3];
        for _ in 0..400 {
            counts[b.pick().unwrap()] += 1;
        }
        assert_eq!(counts, [300, 0, 100]);
        assert_eq!(Balancer::new(&nodes(&[0, 0])).pick(), None);
    }
}
