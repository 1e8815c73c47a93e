//! espeak-ng (built by espeak-rs-sys) uses libsonic for speed changes; Debian's
//! `libsonic-dev` provides it, and the link line must name it.
fn main() {
    println!("cargo:rustc-link-lib=sonic");
}
