//! callhook's tests that need heavy dev-dependencies live in `tests/` here;
//! this library is empty until they share helpers.
