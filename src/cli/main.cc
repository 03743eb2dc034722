#include "cli/app.h"

int main(int argc, char** argv) { return lx::cli::Run(argc, argv); }
