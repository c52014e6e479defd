"""Kinetics: ground reaction at the point rate, plate-to-foot contacts, Plug-in Gait inverse
dynamics (joint forces, moments and powers under Nexus' names)."""

from chainlab.kinetics.contacts import Contact, assign_contacts, contacts_table, stances
from chainlab.kinetics.grf import ground_reaction
from chainlab.kinetics.inverse_dynamics import (
    KineticsOptions,
    body_parameters,
    segment_lengths,
    compute_kinetics,
    joint_kinetics,
)

__all__ = [
    "Contact",
    "KineticsOptions",
    "assign_contacts",
    "body_parameters",
    "compute_kinetics",
    "contacts_table",
    "ground_reaction",
    "joint_kinetics",
    "segment_lengths",
    "stances",
]
