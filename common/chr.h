/* chr.h - libchr, the chronicle library: everything a program or a C
 * feed handler needs to speak the record format. Installed as <chr/chr.h>;
 * the headers include each other relative to this one, never by -I. */
#ifndef CHR_H
#define CHR_H

#include "rec.h"
#include "err.h"
#include "io.h"
#include "dec.h"
#include "tm.h"
#include "path.h"
#include "sym.h"
#include "progress.h"

#define CHR_VERSION_STRING "0.1.0"

#endif
