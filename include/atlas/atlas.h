/* Hologram Atlas — the C core's public API, one include. */
#ifndef ATLAS_ATLAS_H
#define ATLAS_ATLAS_H
#include "atlas/base.h"
#include "atlas/cpu.h"
#include "atlas/pool.h"
#include "atlas/threads.h"
#include "atlas/ir.h"
#include "atlas/runtime.h"
#include "atlas/stdlib.h"
#endif
