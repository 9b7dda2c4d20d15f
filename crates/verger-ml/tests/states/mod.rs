pub mod cases;
pub mod reference;
