//! The suite's API: generated messages, tonic clients and servers, and the encoded
//! descriptor set that reflection and the gateway read.
#![forbid(unsafe_code)]
#![allow(clippy::all, clippy::pedantic)]

/// Every file of the suite's API, with imports and source info, encoded as a
/// `google.protobuf.FileDescriptorSet` (custom options included).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cadre_descriptor.bin"));

pub mod api {
    pub mod v1 {
        tonic::include_proto!("cadre.api.v1");
    }
}

pub mod assessment {
    pub mod v1 {
        tonic::include_proto!("cadre.assessment.v1");
    }
}

pub mod audit {
    pub mod v1 {
        tonic::include_proto!("cadre.audit.v1");
    }
}

pub mod changes {
    pub mod v1 {
        tonic::include_proto!("cadre.changes.v1");
    }
}

pub mod roster {
    pub mod v1 {
        tonic::include_proto!("cadre.roster.v1");
    }
}

pub mod training {
    pub mod v1 {
        tonic::include_proto!("cadre.training.v1");
    }
}

pub mod incentive {
    pub mod v1 {
        tonic::include_proto!("cadre.incentive.v1");
    }
}
